<#-- The sign-up form of the Passcode sign-up authenticator: the address a code is sent to. -->
<#import "template.ftl" as layout>
<@layout.registrationLayout displayMessage=true; section>
    <#if section = "header">
        ${msg("passcodeSignUpTitle")}
    <#elseif section = "form">
        <form id="kc-passcode-sign-up" action="${url.loginAction}" method="post">
            <label for="email">${msg("email")}</label>
            <input id="email" name="email" type="email" autocomplete="email" autofocus required>
            <button type="submit">${msg("passcodeSendCode")}</button>
        </form>
    </#if>
</@layout.registrationLayout>
